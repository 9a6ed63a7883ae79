// What a CLI command may touch of the process: its output streams, environment and working
// directory (so commands are testable without a child process), and the error kinds that turn
// into exit codes: UsageError and ConfigError (config/load.ts) → 2, CliError (and any reported
// failure) → 1 or its exitCode.

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

export const processIo: CliIo = {
  out: (text) => void process.stdout.write(text.endsWith("\n") ? text : text + "\n"),
  err: (text) => void process.stderr.write(text.endsWith("\n") ? text : text + "\n"),
  env: process.env,
  get cwd() {
    return process.cwd();
  },
};

/** The command line is wrong: exit 2 with a one-line message and a pointer to help. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The command could not do its job: exit 1 (or exitCode) with a one-line message. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = "CliError";
  }
}
