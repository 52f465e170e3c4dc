#!/usr/bin/env node
// The `pgm` command, installed with `npm install -g pg-multiverse` (same as @pg-multiverse/cli).
import { main } from '@pg-multiverse/cli';

void main();
