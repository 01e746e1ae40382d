-- When Linear last said no issue carries an error (attachmentsForURL found
-- none of someone else's), SQLite. The create modal asks when it opens;
-- a submit soon after trusts that answer and makes one Linear request, the
-- create, instead of asking again. One row per error, replaced each check.
CREATE TABLE linear_checks (
    error_id   TEXT     PRIMARY KEY,
    checked_at DATETIME NOT NULL
);
