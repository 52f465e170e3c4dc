#!/usr/bin/env node
// The `pgm` command, installed with `npm install -g pg-multiverse` (same as @pg-multiverse/cli).
// The `main` entry: `pgm --help` loads neither pg nor jiti (commands are imported when run).
import { main } from '@pg-multiverse/cli/main';

void main();
