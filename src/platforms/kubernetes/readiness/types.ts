// What a readiness viewer reads and says: shared by the table in kinds.ts and the viewers beside it.

export interface Readiness {
  state: 'ready' | 'waiting' | 'failed'
  /** Why it is not ready yet, why it failed, or what ready means here: one line. */
  message: string
}

export interface ReadinessOptions {
  /** `wait-for-load-balancers`: false takes a LoadBalancer Service as ready without an address. */
  waitForLoadBalancers: boolean
  /**
   * `on-pause` at an Argo Rollout's canary pause without a duration: exit ends the wait with status
   * `paused`, continue promotes it (through ifOurs, as `fieldManager`); others wait for someone to.
   */
  onPause?: 'wait' | 'exit' | 'continue' | 'verify'
  fieldManager?: string
  /** Flagger Canaries of the set as read right before the apply, by name (../progressive/flagger-canary.ts). */
  canaries?: Map<string, CanaryBaseline>
}

/** What a Canary said right before our apply: its verdicts until lastAppliedSpec moves are about older specs. */
export interface CanaryBaseline {
  /** status.lastAppliedSpec before our apply; '' for a Canary new with this apply or never synced. */
  lastAppliedSpec: string
  /** status.phase before our apply, to say what is being ignored. */
  phase?: string
  /** When it was read (ms, down to the second events are stamped with): older events are not about our spec. */
  readAt?: number
  /** Flagger was seen analysing our spec (a phase between the start and the verdict): see canaryReadiness. */
  analysed?: boolean
  /** The Canary's target as read right before our apply: `Deployment/web` and its pod template (templateKey). */
  target?: { ref: string; template: string }
  /** Our apply left the target's pod template as it was: Flagger's current word is about our very spec. */
  unchanged?: boolean
}

export interface Condition {
  type?: string
  status?: string
  reason?: string
  message?: string
}

/** The fields of any object the viewers read. */
export interface LiveObject {
  apiVersion?: string
  kind: string
  metadata: { name: string; generation?: number; deletionTimestamp?: string | Date; uid?: string }
  spec?: Record<string, unknown>
  status?: Record<string, unknown> & { conditions?: Condition[]; observedGeneration?: number }
}
