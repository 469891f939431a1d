/**
 * Prompt and answer of requests from tenants whose capture is on (`observability.capture.tenants`),
 * masked for PII before they are written, kept `retentionDays`. Looked up with the request's usage row
 * by GET /admin/v1/requests/:id.
 */
export const up = `
CREATE TABLE request_captures (
  tenant_id  text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  request_id text NOT NULL,
  messages   jsonb NOT NULL,
  answer     text,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, request_id)
);
CREATE INDEX request_captures_time ON request_captures (created_at);
`;
