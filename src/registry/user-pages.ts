// The pages of `all` and `online` when the table is beyond its limit, made once per change of the
// table so that a page costs a slice whatever the table's size.
import { LIST_PAGE } from '../protocol/constants.js';
import type { ClientRecord } from '../store/store.js';

/** One page of users as `listing` carries it. */
export interface UsersPage {
  entries: Array<{ nick: string; online: boolean }>;
  page: number;
  pages: number;
}

/**
 * The pages of `all` and `online` beyond the table limit, LIST_PAGE nicks each, in the order
 * the nicks first registered. The lists are made once per change of the table, not per
 * request: a page costs a slice, whatever the table's size.
 */
export class UserPages {
  readonly #records: () => Iterable<ClientRecord>;
  #lists: { all: ClientRecord[]; online: ClientRecord[] } | undefined;

  constructor(records: () => Iterable<ClientRecord>) {
    this.#records = records;
  }

  /** The table changed (a nick came, or went online or offline): the lists are made again when next asked for. */
  changed(): void {
    this.#lists = undefined;
  }

  page(online: boolean, page: number): UsersPage {
    if (!this.#lists) {
      const all = [...this.#records()];
      this.#lists = { all, online: all.filter((record) => record.online) };
    }
    const list = online ? this.#lists.online : this.#lists.all;
    const start = page * LIST_PAGE;
    return {
      entries: list
        .slice(start, start + LIST_PAGE)
        .map((record) => ({ nick: record.nick, online: record.online })),
      page,
      pages: Math.ceil(list.length / LIST_PAGE),
    };
  }
}
