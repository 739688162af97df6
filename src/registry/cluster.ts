// This registry node among several sharing one store: which clients it serves, the
// announcements by which nodes tell each other what changed in the store, and their one identity.
import type { Logger } from 'pino';
import type { ClientRecord, Store } from '../store/store.js';
import {
  generateIdentity,
  parseIdentity,
  serializeIdentity,
  type Identity,
} from '../crypto/identity.js';

/** Nicks named in one announcement to the other nodes at most. */
export const NICKS_PER_ANNOUNCEMENT = 1_000;

/** What the link between nodes needs of the registry around it. */
export interface ClusterContext {
  readonly store: Pick<Store, 'announce' | 'onAnnouncement' | 'loadClient' | 'loadGroups'>;
  readonly log: Logger;
  /** Another node changed these records: the table takes them (and its clients hear of them). */
  took(records: ClientRecord[]): void;
  /** Another node changed the groups: here they are, whole. */
  groupsChanged(groups: Awaited<ReturnType<Store['loadGroups']>>): void;
  /** Work nobody awaits: a failure is logged. */
  background(work: Promise<void>, what: string): void;
  closed(): boolean;
}

/**
 * This node among the registry nodes sharing one store: its name, which clients it serves
 * (those registered with it), and the announcements by which nodes tell each other what
 * changed (nicks, comma-separated, or `group:<name>`; each node then reads the records from
 * the store). A registry alone on its store serves everyone in it and announces nothing.
 */
export class ClusterLink {
  readonly #context: ClusterContext;
  /** This node, among the registry nodes sharing one store: stable across its restarts. */
  nodeId = '';
  /** Whether other nodes may share the store (it can announce changes). */
  readonly shared: boolean;

  constructor(context: ClusterContext) {
    this.#context = context;
    this.shared = context.store.announce !== undefined;
  }

  /** Listens to the other nodes' announcements (before the node's name is known: its own are told apart then). */
  async listen(): Promise<void> {
    await this.#context.store.onAnnouncement?.((message) => this.#heard(message));
  }

  /** Whether this node serves `record`: it gets its table pushes and heartbeats here. */
  serves(record: ClientRecord): boolean {
    return !this.shared || record.node === undefined || record.node === this.nodeId;
  }

  /** Tells the other nodes these nicks changed, in batches (nicks never hold a comma). */
  changed(nicks: string[]): void {
    for (let start = 0; start < nicks.length; start += NICKS_PER_ANNOUNCEMENT)
      this.#announce(nicks.slice(start, start + NICKS_PER_ANNOUNCEMENT).join(','));
  }

  /** Tells the other nodes group `group` changed. */
  groupChanged(group: string): void {
    this.#announce(`group:${group}`);
  }

  #announce(what: string): void {
    this.#context.store
      .announce?.(`${this.nodeId} ${what}`)
      .catch((error: unknown) => this.#context.log.warn({ err: error }, 'announcement failed'));
  }

  /** Another node changed something: read it from the store, and hand it to the registry. */
  #heard(message: string): void {
    const context = this.#context;
    const [node, what] = message.split(' ', 2);
    if (!what || node === this.nodeId || context.closed()) return;
    const work = async () => {
      if (what.startsWith('group:')) return context.groupsChanged(await context.store.loadGroups());
      const load = context.store.loadClient?.bind(context.store);
      const records = load ? await Promise.all(what.split(',').map((nick) => load(nick))) : [];
      context.took(records.filter((record): record is ClientRecord => record !== undefined));
    };
    context.background(work(), 'a change from another node');
  }
}

/**
 * The identity the nodes sharing `store` share, kept in the store (the first node to ask makes
 * it), so a client's pin holds on every node; undefined for a store that keeps none.
 */
export async function sharedIdentity(
  store: Pick<Store, 'sharedIdentity'>,
): Promise<Identity | undefined> {
  if (!store.sharedIdentity) return undefined;
  return parseIdentity(
    await store.sharedIdentity(async () => serializeIdentity(await generateIdentity())),
    'in the store',
  );
}
