-- Messages sent to people (engage_common.notify): one row per message key, written
-- before sending and marked sent after, so a message is never sent twice.
CREATE TABLE IF NOT EXISTS notifications (
    message_key text        PRIMARY KEY,
    to_address  text        NOT NULL,
    subject     text        NOT NULL,
    -- sending: claimed (a process that died here may or may not have sent it: never
    -- resent); sent; failed: gave up after its retries (a later send may try again);
    -- opted-out: the address had asked for no more messages.
    status      text        NOT NULL DEFAULT 'sending'
                CHECK (status IN ('sending', 'sent', 'failed', 'opted-out')),
    attempts    integer     NOT NULL DEFAULT 0,
    last_error  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz
);

-- Addresses that asked for no more messages, in lower case.
CREATE TABLE IF NOT EXISTS notification_opt_outs (
    address text        PRIMARY KEY CHECK (address = lower(address)),
    at      timestamptz NOT NULL DEFAULT now()
);
