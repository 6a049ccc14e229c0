// What a readiness viewer reads and says: shared by the table in ../readiness.ts and the viewers beside it.

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
