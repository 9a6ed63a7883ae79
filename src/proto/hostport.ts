// "host:port" and "[v6]:port" as written in settings (smtp.listen, http.listen, smtp.forwardTo).
// No I/O.

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export function parseHostPort(text: string, defaultPort?: number): HostPort {
  const v6 = /^\[([0-9a-fA-F:.]+)\](?::(\d{1,5}))?$/.exec(text);
  const plain = /^([^:[\]\s]+)(?::(\d{1,5}))?$/.exec(text);
  const m = v6 ?? plain;
  const host = m?.[1];
  const port = m?.[2] !== undefined ? Number(m[2]) : defaultPort;
  if (host === undefined || port === undefined || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`"${text}" is not host:port`);
  }
  return { host, port };
}

export const formatHostPort = (h: HostPort): string =>
  h.host.includes(":") ? `[${h.host}]:${h.port}` : `${h.host}:${h.port}`;
