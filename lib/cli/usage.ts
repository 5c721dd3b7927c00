/** A mistake on the command line (an unknown or bad option value, an unusable file named by an option): exit 2. */
export class UsageError extends Error {}
