import { z } from 'zod';

const role = z.enum(['system', 'developer', 'user', 'assistant', 'tool']);

const contentPart = z.looseObject({ type: z.string().min(1) });

const toolCall = z.looseObject({
  id: z.string().min(1),
  type: z.literal('function'),
  function: z.looseObject({ name: z.string().min(1), arguments: z.string() }),
});

const message = z.looseObject({
  role,
  content: z.union([z.string(), z.array(contentPart), z.null()]).optional(),
  name: z.string().optional(),
  tool_calls: z.array(toolCall).optional(),
  tool_call_id: z.string().optional(),
});

const tool = z.looseObject({
  type: z.literal('function'),
  function: z.looseObject({ name: z.string().min(1).max(64), description: z.string().optional(), parameters: z.record(z.string(), z.unknown()).optional() }),
});

/** Session ids are chosen by the app; printable, no whitespace, bounded so they fit keys and logs. */
export const sessionIdSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[^\s\u0000-\u001f]+$/, 'printable characters without spaces');

const share = z.number().min(0).max(1);

/** The gateway's `context` field: how this request's prompt is assembled (context/pipeline.ts). */
export const contextOptionsSchema = z.strictObject({
  budget: z.number().int().min(1).optional(),
  scope: z.enum(['session', 'user']).optional(),
  episodic: z.boolean().optional(),
  shares: z.strictObject({ facts: share, summary: share, recent: share, episodic: share, documents: share }).partial().optional(),
  documents: z.boolean().optional(),
  collections: z.array(z.string().min(1).max(100)).min(1).max(100).optional(),
  citations: z.boolean().optional(),
  facts: z.boolean().optional(),
});

/**
 * The chat-completions body: OpenAI's fields are checked where the gateway relies on them; any
 * other field passes through to the upstream untouched. `session_id` is the gateway's own.
 */
export const chatRequestSchema = z.looseObject({
  model: z.string().min(1, 'a model name or alias is required'),
  messages: z.array(message).min(1, 'at least one message is required'),
  stream: z.boolean().optional(),
  n: z.number().int().min(1).optional(),
  temperature: z.number().min(0).max(2).optional(),
  top_p: z.number().min(0).max(1).optional(),
  max_tokens: z.number().int().positive().optional(),
  max_completion_tokens: z.number().int().positive().optional(),
  stop: z.union([z.string(), z.array(z.string()).max(4)]).optional(),
  tools: z.array(tool).optional(),
  tool_choice: z.union([z.enum(['none', 'auto', 'required']), z.looseObject({ type: z.literal('function'), function: z.object({ name: z.string() }) })]).optional(),
  response_format: z
    .union([
      z.object({ type: z.literal('text') }),
      z.object({ type: z.literal('json_object') }),
      z.looseObject({ type: z.literal('json_schema'), json_schema: z.looseObject({ name: z.string().min(1) }) }),
    ])
    .optional(),
  user: z.string().max(256).optional(),
  session_id: sessionIdSchema.optional(),
  context: contextOptionsSchema.optional(),
});

export type ChatRequestBody = z.infer<typeof chatRequestSchema>;
