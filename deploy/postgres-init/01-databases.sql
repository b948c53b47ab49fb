-- Run once by the postgres image on an empty data directory: one database per owner.
-- (engage_common.migrate also creates its database if missing; this keeps a fresh
-- stack from racing on CREATE DATABASE and makes the ownership map explicit.)
CREATE DATABASE engage_surveys;
CREATE DATABASE engage_feedback;
CREATE DATABASE engage_events;
CREATE DATABASE engage_outcomes;
CREATE DATABASE engage_gateway;
