/**
 * A tracer that records finished spans, for asserting what operations trace.
 */
import type * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"

/** A recorded span. */
export interface RecordedSpan {
  readonly name: string
  readonly kind: Tracer.SpanKind
  readonly attributes: Map<string, unknown>
  readonly parentName: string | undefined
  exit: Exit.Exit<unknown, unknown> | undefined
}

/** Creates a tracer and the list it records into. */
export const make = () => {
  const spans: Array<RecordedSpan> = []
  let counter = 0
  const tracer = Tracer.make({
    span: (name, parent, context, links, _startTime, kind) => {
      const attributes = new Map<string, unknown>()
      const recorded: RecordedSpan = {
        name,
        kind,
        attributes,
        parentName: Option.isSome(parent) && parent.value._tag === "Span" ? parent.value.name : undefined,
        exit: undefined
      }
      const span: Tracer.Span = {
        _tag: "Span",
        name,
        spanId: `span${++counter}`,
        traceId: "trace",
        parent,
        context,
        status: { _tag: "Started", startTime: 0n },
        attributes,
        links,
        sampled: true,
        kind,
        end: (_endTime, exit) => {
          recorded.exit = exit
          spans.push(recorded)
        },
        attribute: (key, value) => {
          attributes.set(key, value)
        },
        event: () => {},
        addLinks: () => {}
      }
      return span
    },
    context: (f) => f()
  })
  return { tracer, spans }
}
