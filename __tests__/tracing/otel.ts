/**
 * OpenTelemetry for the tracing tests: the subscriber of the README (a span per load and per
 * commit, from the two tracing channels) with the tracer as a parameter, a tracer that keeps its
 * finished spans in memory, and a context manager on AsyncLocalStorage, so that the spans nest
 * under the span of the request that caused them, as they do under an APM agent.
 * @module
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { tracingChannel } from 'node:diagnostics_channel'
import {
  context as otelContext,
  ROOT_CONTEXT,
  SpanStatusCode,
  type Attributes,
  type Context,
  type ContextManager,
  type Span,
  type Tracer,
} from '@opentelemetry/api'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import type { StashCommitContext, StashLoadContext } from 'express-stash'

/** Spans of loads and commits, as the README's subscriber makes them; returns the unsubscribe. */
export function subscribeSpans(tracer: Tracer): () => void {
  const spans = new WeakMap<object, Span>()
  function traceChannel<C extends StashLoadContext | StashCommitContext>(
    name: string,
    spanName: string,
    attributes: (context: C) => Attributes,
  ): () => void {
    const finish = (context: C) => {
      const span = spans.get(context)
      if (span === undefined) return
      spans.delete(context)
      span.setAttribute('express_stash.outcome', context.outcome ?? 'unknown')
      if (context.outcome === 'error') {
        span.recordException(context.error as Error)
        span.setStatus({ code: SpanStatusCode.ERROR, message: (context.error as Error).message })
      }
      span.end()
    }
    const subscribers = {
      start: (context: C) => spans.set(context, tracer.startSpan(spanName, { attributes: attributes(context) })),
      end: (context: C) => {
        if (context.outcome !== undefined) finish(context) // over already: a load answered from memory
      },
      asyncStart: () => {},
      asyncEnd: finish,
      error: () => {},
    }
    tracingChannel<C, C>(name).subscribe(subscribers)
    return () => tracingChannel<C, C>(name).unsubscribe(subscribers)
  }
  const stopLoads = traceChannel<StashLoadContext>('express-stash:load', 'express-stash load', (load) => ({
    'express_stash.record': load.recordLabel,
    'express_stash.adapter': load.adapter,
    'express_stash.keys': [...load.keys],
  }))
  const stopCommits = traceChannel<StashCommitContext>('express-stash:commit', 'express-stash commit', (commit) => ({
    'express_stash.record': commit.recordLabel,
    'express_stash.adapter': commit.adapter,
    'express_stash.operation': commit.operation,
    'express_stash.written': [...commit.written],
    'express_stash.removed': [...commit.removed],
  }))
  return () => {
    stopLoads()
    stopCommits()
  }
}

/** The active OpenTelemetry context in an AsyncLocalStorage (what `@opentelemetry/context-async-hooks` provides). */
class AsyncLocalContextManager implements ContextManager {
  private readonly storage = new AsyncLocalStorage<Context>()
  active(): Context {
    return this.storage.getStore() ?? ROOT_CONTEXT
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    context: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.storage.run(context, () => fn.apply(thisArg, args))
  }
  bind<T>(context: Context, target: T): T {
    if (typeof target !== 'function') return target
    return ((...args: unknown[]) => this.with(context, target as (...a: unknown[]) => unknown, undefined, ...args)) as T
  }
  enable(): this {
    return this
  }
  disable(): this {
    this.storage.disable()
    return this
  }
}

/** A tracer whose finished spans stay in `exporter`, the context manager registered, and the spans of express-stash subscribed. */
export function tracing(): { tracer: Tracer; exporter: InMemorySpanExporter; stop(): Promise<void> } {
  const exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  otelContext.setGlobalContextManager(new AsyncLocalContextManager())
  const tracer = provider.getTracer('express-stash tests')
  const unsubscribe = subscribeSpans(tracer)
  return {
    tracer,
    exporter,
    async stop() {
      unsubscribe()
      otelContext.disable()
      await provider.shutdown()
    },
  }
}
