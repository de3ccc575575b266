/**
 * The optional cross-node recovery capability of an adapter (`StashAdapter.recovery`):
 * the cookie carries a hint naming the node that holds the record, and a node that misses asks
 * that node (then the others) for the record and **moves** it here. Only stores local to one
 * process need it: the memory adapter has it when given `peers`; Redis does not.
 */
export interface StashRecovery {
  /**
   * Hands the stash's secrets to the recovery (the first signs, all verify): hints, peer
   * authentication and encryption use keys derived from them. `createStash` calls it once per
   * instance. Throws `TypeError` when the adapter already serves a stash with other secrets.
   */
  attach(secrets: readonly string[]): void
  /** This node's hint, for the cookie; undefined until {@link StashRecovery.attach}. */
  readonly hint: string | undefined
  /**
   * Fetches record `key` from the peers (the one named by `hint` first) and stores it locally,
   * the peer deleting its copy. Resolves whether the record is now here; never rejects, and
   * never takes longer than the adapter's peer timeout.
   */
  recover(key: string, hint: string | undefined): Promise<boolean>
}
