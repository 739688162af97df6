// Every option of the command line, with its type and help text: what yargs is given, and what
// the quick reader (quick-arguments.ts) takes its lists of value options and flags from, so the
// two read the same options. No yargs here: a plain start loads this and not yargs.

/** Every option, by its name (`s` and `c` with their long aliases), as yargs declares them. */
export const OPTIONS = {
  s: { alias: 'server', type: 'string', describe: 'Run the registry server on <port>' },
  c: {
    alias: 'client',
    type: 'string',
    describe: 'Run a client: -c <nick> <server-ip> <server-port> <client-port>',
  },
  host: { type: 'string', describe: 'Local address to bind (default: all interfaces)' },
  db: {
    type: 'string',
    describe: 'Server: lowdb store file (default: <data dir>/registry-<port>.json)',
  },
  fsync: {
    type: 'boolean',
    describe:
      "Each write on disk before it is taken as done, to survive a power cut (a disk flush per write): a registry's lowdb store; a client's outbox (a message typed, before it is sent) and contacts",
  },
  'probe-timeout': {
    type: 'string',
    describe: 'Server: ms a presence probe waits (default 500)',
  },
  metrics: {
    type: 'string',
    describe: 'Server: serve /metrics (Prometheus) and /healthz over HTTP on 127.0.0.1:<port>',
  },
  node: {
    type: 'string',
    describe:
      "Server: this node's name among nodes sharing a --store (default: host name and port)",
  },
  store: {
    type: 'string',
    describe:
      'Server: redis://host:port[/db], or redis-cluster://host:port[,host:port...] for a Redis Cluster, to keep state in Redis (several nodes may share it)',
  },
  servers: {
    type: 'string',
    describe: 'Client: other registry nodes to fail over to, host:port[,host:port...]',
  },
  'rate-limit': {
    type: 'string',
    describe: 'Server: datagrams per second one address may send (default 2000)',
  },
  'hello-rate': {
    type: 'string',
    describe: 'Server: hellos per second answered from one address (default 50)',
  },
  'relay-messages': {
    type: 'string',
    describe:
      'Server: messages relayed live from one user to another per minute, when no direct path could be punched (default 600)',
  },
  'relay-bytes': {
    type: 'string',
    describe:
      'Server: sealed bytes relayed live from one user to another per minute (default 1048576)',
  },
  'nat-probe-port': {
    type: 'string',
    describe:
      'Server: a second UDP port where clients learn whether their NAT maps them consistently (for hole punching; off by default)',
  },
  'mailbox-messages': {
    type: 'string',
    describe:
      'Server: most messages kept for one offline user; past it the sender keeps the message and tries later (default 1000)',
  },
  'mailbox-per-sender': {
    type: 'string',
    describe:
      'Server: most messages kept for one offline user from one sender; past it that sender keeps the message and tries later (default 100)',
  },
  'max-clients': {
    type: 'string',
    describe: 'Server: most nicks the table holds (default 100000, at most 250000)',
  },
  'table-limit': {
    type: 'string',
    describe:
      'Server: up to this many nicks every client gets the whole table; beyond, only whom it watches (default 256)',
  },
  'data-dir': {
    type: 'string',
    describe: 'Where state is kept, per nick (default: $XDG_DATA_HOME/udpchat)',
  },
  json: { type: 'boolean', describe: 'Client: one JSON object per event on stdout' },
  color: {
    type: 'boolean',
    describe: 'Client: colour on a terminal (default; --no-color or NO_COLOR=1 turns it off)',
  },
  timestamps: { type: 'boolean', describe: 'Client: HH:MM before each line on a terminal' },
  bell: {
    type: 'boolean',
    describe: "Client: ring the terminal's bell at each private message",
  },
  'ack-timeout': { type: 'string', describe: 'Client: ms to wait for an ACK (default 500)' },
  retries: { type: 'string', describe: 'Client: tries for requests to the server (default 5)' },
  password: {
    type: 'boolean',
    describe: "Client: log in to the nick's account (asks for the password, or UDPCHAT_PASSWORD)",
  },
  'new-account': {
    type: 'boolean',
    describe: 'Client: make an account for the nick, with a password',
  },
  'heartbeat-interval': {
    type: 'string',
    describe: 'ms between client heartbeats (default 10000; server: the interval it expects)',
  },
  'log-level': { type: 'string', describe: 'fatal, error, warn, info, debug, trace or silent' },
  'log-file': { type: 'string', describe: 'Write logs to this file instead of stderr' },
} as const satisfies Record<
  string,
  { type: 'string' | 'boolean'; describe: string; alias?: string }
>;
