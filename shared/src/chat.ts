import { z } from 'zod';

/**
 * Model ids travel into upstream request bodies, log lines and HTTP headers, so they are held to a safe
 * alphabet: this closes header injection through `model` and keeps log lines one line long.
 */
export const modelIdSchema = z
  .string()
  .min(1, 'model must not be empty')
  .max(128, 'model must be at most 128 characters')
  .regex(/^[A-Za-z0-9._:/@-]+$/, 'model may contain only letters, digits and . _ : / @ -');

const messageSchema = z.looseObject({
  role: z.string().min(1).max(64),
  content: z.union([z.string(), z.array(z.unknown()), z.null()]).optional(),
});

/**
 * An OpenAI-compatible chat request. Loose on purpose: fields we do not model (GLM's `thinking`, `tools`,
 * `response_format`, ...) must reach the upstream untouched.
 */
export const chatCompletionRequestSchema = z.looseObject({
  model: modelIdSchema,
  messages: z.array(messageSchema).min(1, 'messages must contain at least one message'),
  stream: z.boolean().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullable().optional(),
  max_tokens: z.number().int().positive().optional(),
});
export type ChatCompletionRequest = z.infer<typeof chatCompletionRequestSchema>;

export const usageSchema = z.looseObject({
  prompt_tokens: z.number().int().nonnegative(),
  completion_tokens: z.number().int().nonnegative(),
  total_tokens: z.number().int().nonnegative().optional(),
  prompt_tokens_details: z.looseObject({ cached_tokens: z.number().optional() }).nullable().optional(),
});
export type Usage = z.infer<typeof usageSchema>;

const deltaSchema = z.looseObject({
  role: z.string().optional(),
  content: z.string().nullable().optional(),
  reasoning_content: z.string().nullable().optional(),
  tool_calls: z.array(z.unknown()).optional(),
});

/** One `data:` event of a streamed chat completion. Unknown fields are kept. */
export const chatCompletionChunkSchema = z.looseObject({
  id: z.string().optional(),
  object: z.string().optional(),
  created: z.number().optional(),
  model: z.string().optional(),
  choices: z.array(
    z.looseObject({
      index: z.number().optional(),
      delta: deltaSchema.optional(),
      finish_reason: z.string().nullable().optional(),
    }),
  ),
  usage: usageSchema.nullable().optional(),
});
export type ChatCompletionChunk = z.infer<typeof chatCompletionChunkSchema>;

export const chatCompletionSchema = z.looseObject({
  id: z.string().optional(),
  object: z.string().optional(),
  model: z.string().optional(),
  choices: z.array(
    z.looseObject({
      index: z.number().optional(),
      message: z.looseObject({
        role: z.string().optional(),
        content: z.string().nullable().optional(),
        reasoning_content: z.string().nullable().optional(),
      }),
      finish_reason: z.string().nullable().optional(),
    }),
  ),
  usage: usageSchema.nullable().optional(),
});
export type ChatCompletion = z.infer<typeof chatCompletionSchema>;

export const modelListSchema = z.object({
  object: z.literal('list'),
  data: z.array(
    z.object({
      id: z.string(),
      object: z.literal('model'),
      created: z.number(),
      owned_by: z.string(),
    }),
  ),
});
export type ModelList = z.infer<typeof modelListSchema>;
