import * as z from 'zod/mini';
import { type ChatError, type ChatMessage, type HostMessage, type ViewState } from './protocol';

// The mini build of zod keeps the webview bundle small; the annotations tie each schema to protocol.ts, so a
// changed field there fails the type check here instead of silently dropping messages at runtime.
const chatErrorSchema: z.ZodMiniType<ChatError> = z.object({
  kind: z.enum(['auth', 'rate_limit', 'server', 'network', 'bad_request']),
  message: z.string(),
  retryAfterSec: z.optional(z.number()),
});

const chatMessageSchema: z.ZodMiniType<ChatMessage> = z.object({
  id: z.string(),
  role: z.enum(['user', 'assistant']),
  content: z.string(),
  reasoning: z.optional(z.string()),
  model: z.optional(z.string()),
  error: z.optional(chatErrorSchema),
  stopped: z.optional(z.boolean()),
});

const viewStateSchema: z.ZodMiniType<ViewState> = z.object({
  signedIn: z.boolean(),
  account: z.nullable(z.string()),
  models: z.array(z.string()),
  model: z.nullable(z.string()),
  messages: z.array(chatMessageSchema),
});

const hostMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('state'), state: viewStateSchema }),
  z.object({ type: z.literal('assistantStart'), requestId: z.string(), message: chatMessageSchema }),
  z.object({ type: z.literal('assistantDelta'), requestId: z.string(), content: z.string(), reasoning: z.string() }),
  z.object({ type: z.literal('assistantEnd'), requestId: z.string(), stopped: z.boolean() }),
  z.object({ type: z.literal('assistantError'), requestId: z.string(), error: chatErrorSchema }),
]);

// A message type added to the protocol but not to the schema above would be rejected at runtime; this makes
// it a compile error instead.
type UnparsedHostMessageType = Exclude<HostMessage['type'], z.infer<typeof hostMessageSchema>['type']>;
const everyHostMessageTypeParsed: [UnparsedHostMessageType] extends [never] ? true : never = true;
void everyHostMessageTypeParsed;

/** The host message in `data`, or null when it does not match the protocol. */
export function parseHostMessage(data: unknown): HostMessage | null {
  const result = hostMessageSchema.safeParse(data);
  return result.success ? result.data : null;
}
