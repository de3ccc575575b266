/**
 * The load generator of the HTTP benchmark: a child process of bench/run.ts, pinned to its own
 * core, so that generating load never takes CPU from the server under test.
 *
 * It takes jobs over the IPC channel (`LoadJob`), runs autocannon for each and answers with a
 * `LoadResult`. Each request carries the next cookie of the job's list, round robin across all
 * connections: with one cookie every request belongs to the same client, with a hundred each
 * request belongs to another client than the one before it.
 */
import autocannon from 'autocannon'

/** One load run, sent by bench/run.ts. */
export interface LoadJob {
  url: string
  connections: number
  /** Seconds. */
  duration: number
  /** `Cookie` header values, used round robin; empty for requests without a cookie. */
  cookies: string[]
}

/** What one load run measured. */
export interface LoadResult {
  /** Responses received. */
  requests: number
  /** Requests sent, including those still in flight when the run ended (which the server still serves). */
  sent: number
  requestsPerSecond: number
  /** Milliseconds. */
  p50: number
  p99: number
  /** Responses that were not 2xx, plus connection errors and timeouts. */
  failures: number
}

/** The value below which `fraction` of the sorted `values` lie (nearest rank). */
function percentile(sorted: Float64Array, fraction: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)]!
}

/**
 * Runs one job with autocannon. Latencies are taken from its `response` events, which carry
 * them in fractional milliseconds: its own histogram keeps whole milliseconds only, too coarse
 * for responses that mostly take one or two.
 */
export function runLoad(job: LoadJob): Promise<LoadResult> {
  let next = 0
  let latencies = new Float64Array(1 << 16)
  let count = 0
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: job.url,
        connections: job.connections,
        duration: job.duration,
        requests: [
          {
            method: 'GET',
            setupRequest: (request) =>
              job.cookies.length === 0
                ? request
                : { ...request, headers: { ...request.headers, cookie: job.cookies[next++ % job.cookies.length]! } },
          },
        ],
      },
      (error, result) => {
        if (error) return reject(error instanceof Error ? error : new Error(String(error)))
        const sorted = latencies.subarray(0, count).sort()
        resolve({
          requests: result.requests.total,
          sent: result.requests.sent,
          requestsPerSecond: result.requests.total / result.duration,
          p50: percentile(sorted, 0.5),
          p99: percentile(sorted, 0.99),
          failures: result.non2xx + result.errors + result.timeouts,
        })
      },
    )
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode < 200 || statusCode > 299) return
      if (count === latencies.length) {
        const grown = new Float64Array(latencies.length * 2)
        grown.set(latencies)
        latencies = grown
      }
      latencies[count++] = responseTime
    })
  })
}

if (process.send !== undefined) {
  process.on('message', (job: LoadJob) => {
    runLoad(job).then(
      (result) => process.send!({ result }),
      (error: unknown) => process.send!({ error: String(error) }),
    )
  })
  process.on('disconnect', () => process.exit(0))
  process.send({ ready: true })
}
