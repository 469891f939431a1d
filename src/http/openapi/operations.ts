/** Every documented operation (method, path, request schemas — the routes' own zod schemas — and responses), in the document's order. Part of src/http/openapi.ts. */

import { ADMIN_OPERATIONS } from './admin-operations.js';
import { API_OPERATIONS } from './api-operations.js';
import type { Operation } from './operation.js';

export type { Operation } from './operation.js';

export const OPERATIONS: Operation[] = [...ADMIN_OPERATIONS, ...API_OPERATIONS];
