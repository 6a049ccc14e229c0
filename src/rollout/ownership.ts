// The ownership rule (DESIGN.md, "Ownership: what the action may touch"), in the one place every
// platform uses. A destructive call (a rollback UpdateService, StopServiceDeployment, a CodeDeploy
// deployment or stop, StopTask, DeregisterTaskDefinition, a Kubernetes delete, patch or undo, a prune)
// is made only after a read *at that moment* proves its target is ours, and with the strongest
// precondition the API offers (uid + resourceVersion; the service's current deployment as just read).
//
// "Ours" means created by this run: its own API answer, a createdAt after our call, our field
// manager's Apply entry, our ApplySet id, our run token. Never "it differs from what we saw earlier",
// never a label alone.
//
// The platform clients' destructive methods take an `Owned` value as their first argument, and only
// `ifOurs` below makes one: a new destructive path cannot forget the check, since it does not compile
// without it.

/** What the fresh read found. `ours: false` says what is there instead and whose it is. */
export type Proof<P> =
  | {
      ours: true
      /** The precondition the destructive call carries (uid + resourceVersion, the deployment read). */
      precondition: P
      /** One line: what proved it ours ("service web runs our deployment ecs-svc/123"). */
      evidence: string
    }
  | {
      ours: false
      /** One line: what the read found instead ("service web now runs web:9 (deployment ecs-svc/456)"). */
      found: string
      /** Whose it is, where that is known ("deploy-service run https://…", "field manager kubectl-expose"). */
      owner?: string
      /** Another deploy replaced ours: the step's status is `superseded`. */
      superseded?: boolean
    }

const OWNED: unique symbol = Symbol('owned')

/**
 * The proof, handed to the destructive call itself. Only `ifOurs` makes one, so a client method that
 * asks for it cannot be called without the check.
 */
export interface Owned<P> {
  readonly [OWNED]: true
  /** What the call does, for messages. */
  readonly action: string
  readonly precondition: P
  readonly evidence: string
}

/** A destructive call that did not happen, because its target was not provably ours at that moment. */
export class NotOurs extends Error {
  readonly action: string
  readonly found: string
  readonly owner?: string
  readonly superseded: boolean

  constructor(action: string, proof: Extract<Proof<unknown>, { ours: false }>) {
    super(`did not ${action}: ${proof.found}${proof.owner ? ` (${proof.owner})` : ''}, so it is not ours to touch`)
    this.name = 'NotOurs'
    this.action = action
    this.found = proof.found
    this.owner = proof.owner
    this.superseded = proof.superseded ?? false
  }
}

/**
 * Reads the target now (`prove`) and makes the destructive call (`act`) only when the read proves it
 * ours, handing it the proof with its precondition. Otherwise throws `NotOurs`, and nothing is done.
 * The read must be made for this call: a value read before a long phase proves nothing.
 */
export async function ifOurs<P, T>(action: string, prove: () => Promise<Proof<P>>, act: (owned: Owned<P>) => Promise<T>): Promise<T> {
  const proof = await prove()
  if (!proof.ours) throw new NotOurs(action, proof)
  return act({ [OWNED]: true, action, precondition: proof.precondition, evidence: proof.evidence })
}

export function isNotOurs(error: unknown): error is NotOurs {
  return error instanceof NotOurs
}
