-- Reach against population (issue 13): who took part, by Census group and deprivation,
-- set beside who lives in each place.

-- Population profiles the ICS loads (``load-population``): residents of a place by
-- dimension and group (engage_contracts.population.DIMENSIONS; IMD by decile, 1 to 10).
-- A load replaces every row, in one transaction.
CREATE TABLE IF NOT EXISTS population_profiles (
    place      text    NOT NULL,
    dimension  text    NOT NULL,
    grp        text    NOT NULL,
    population bigint  NOT NULL CHECK (population >= 0),
    PRIMARY KEY (place, dimension, grp)
);

-- The postcode -> LSOA -> IMD decile lookup (``load-deprivation``). Public reference
-- data, keyed on the SHA-256 of the normalised postcode ("LS6 1AN") rather than the
-- postcode, so that a search of every database for a resident's full postcode finds
-- nothing at all (the hash is not for secrecy: postcodes are few and public).
CREATE TABLE IF NOT EXISTS postcode_deciles (
    postcode_sha256 text     PRIMARY KEY,
    lsoa            text     NOT NULL,
    imd_decile      smallint NOT NULL CHECK (imd_decile BETWEEN 1 AND 10)
);

-- What each file was: its source or edition, when it was loaded, how many rows.
CREATE TABLE IF NOT EXISTS reference_files (
    kind      text        PRIMARY KEY,   -- population | deprivation
    source    text        NOT NULL,
    rows      integer     NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now()
);

-- One row per contribution, from the services' events: a survey response (online, web
-- form, paper, phone), a feedback item, an attendee at an engagement event. Only group
-- codes (engage_contracts.population.coarse_groups), never an answer's words, a district
-- or a postcode; the source id is kept only to apply a later change or deletion once.
CREATE TABLE IF NOT EXISTS reach_contributions (
    source           text        NOT NULL,   -- response | feedback | attendee
    source_id        text        NOT NULL,
    consultation_ids uuid[]      NOT NULL DEFAULT '{}',
    place            text,
    channel          text        NOT NULL,
    occurred_at      timestamptz NOT NULL,
    age_band         text,
    sex              text,
    ethnicity        text,
    disability       text,
    unpaid_care      text,
    imd_decile       smallint,
    PRIMARY KEY (source, source_id)
);
CREATE INDEX IF NOT EXISTS reach_contributions_consultations
    ON reach_contributions USING gin (consultation_ids);
CREATE INDEX IF NOT EXISTS reach_contributions_place ON reach_contributions (place, occurred_at);

-- Sources whose row was deleted (a resident deleted it, staff erased it, an attendee was
-- marked absent): a late or replayed event cannot bring it back.
CREATE TABLE IF NOT EXISTS reach_removed (
    source    text NOT NULL,
    source_id text NOT NULL,
    PRIMARY KEY (source, source_id)
);
