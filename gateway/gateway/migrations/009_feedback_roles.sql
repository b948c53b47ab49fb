-- Feedback brings two roles: triage officers (read originals, theme, reply) and
-- safeguarding leads (the safeguarding queue and its originals).
ALTER TABLE staff_users DROP CONSTRAINT IF EXISTS staff_users_role_check;
ALTER TABLE staff_users ADD CONSTRAINT staff_users_role_check CHECK (
    role IN ('admin', 'engagement-officer', 'analyst', 'board-viewer',
             'triage-officer', 'safeguarding-lead')
);
