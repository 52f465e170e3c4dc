import pkg from '../package.json';

/** The version of @pg-multiverse/cli (from its package.json, inlined at build time). */
export const VERSION: string = pkg.version;
export const PACKAGE_NAME: string = pkg.name;
