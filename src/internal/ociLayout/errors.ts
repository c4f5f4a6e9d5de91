/**
 * The typed errors of OCI image layouts.
 *
 * @internal
 */
import * as Schema from "effect/Schema"

/** A layout that is not one, or a malformed file in it. @internal */
export class InvalidLayout extends Schema.TaggedError<InvalidLayout>()("InvalidLayout", {
  directory: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `invalid OCI layout ${this.directory}: ${this.reason}`
  }
}

/** No directory at the path given (and the layout was not to be created). @internal */
export class LayoutNotFound extends Schema.TaggedError<LayoutNotFound>()("LayoutNotFound", {
  directory: Schema.String
}) {
  override get message(): string {
    return `no OCI layout at ${this.directory}: no such directory`
  }
}

/** A blob the layout does not hold. @internal */
export class LayoutBlobNotFound extends Schema.TaggedError<LayoutBlobNotFound>()("LayoutBlobNotFound", {
  directory: Schema.String,
  digest: Schema.String
}) {
  override get message(): string {
    return `blob ${this.digest} not found in OCI layout ${this.directory}`
  }
}

/** No image under the tag asked for (or, without a tag, not exactly one image). @internal */
export class LayoutImageNotFound extends Schema.TaggedError<LayoutImageNotFound>()("LayoutImageNotFound", {
  directory: Schema.String,
  tag: Schema.optionalWith(Schema.String, { exact: true }),
  reason: Schema.String
}) {
  override get message(): string {
    return `no image ${this.tag === undefined ? "" : `tagged ${this.tag} `}in OCI layout ${this.directory}: ${this.reason}`
  }
}

/** Another writer held the layout's `index.json` lock for longer than we waited. @internal */
export class LayoutLocked extends Schema.TaggedError<LayoutLocked>()("LayoutLocked", {
  directory: Schema.String,
  lock: Schema.String
}) {
  override get message(): string {
    return `OCI layout ${this.directory} stayed locked by ${this.lock}`
  }
}
