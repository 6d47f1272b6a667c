/** Errors of the `shmsync` command: `CliError` exits 1, `UsageError` exits 2. */
export class CliError extends Error {
  readonly exitCode: number = 1;
}

export class UsageError extends CliError {
  override readonly exitCode: number = 2;
}
