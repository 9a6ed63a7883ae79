// A caller's mistake (a duplicate, something missing, a bad value), thrown by the stores and
// reported as it is: the CLI prints the message, the APIs map the code to a status.

export class CallerError<Code extends string> extends Error {
  constructor(
    readonly code: Code,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}
