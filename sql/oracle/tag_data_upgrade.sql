-- Upgrade a TAG_DATA of the previous release (unique on plc_code, tag_address, ts; a seq column
-- that restarts at 1 with every poller start) to the cycle identity of tag_data.sql.
--
-- Run once, with the writer stopped. Every row is kept; its cycle becomes -ts in Unix ms,
-- the number the new release gives a cycle of the previous one still waiting in a poller's or
-- the buffer's journal, so such a cycle sent again after the upgrade is stored once.
-- The UPDATE touches every row: on a large table run it partition by partition
-- (UPDATE ... PARTITION (name)) with a COMMIT after each.

ALTER TABLE TAG_DATA ADD (cycle NUMBER(19));

UPDATE TAG_DATA SET cycle = -((TRUNC(ts) - DATE '1970-01-01') * 86400000
                              + EXTRACT(HOUR FROM ts) * 3600000 + EXTRACT(MINUTE FROM ts) * 60000
                              + ROUND(EXTRACT(SECOND FROM ts) * 1000));
COMMIT;

ALTER TABLE TAG_DATA MODIFY (cycle NOT NULL);
ALTER TABLE TAG_DATA DROP CONSTRAINT tag_data_uk DROP INDEX;
CREATE UNIQUE INDEX tag_data_uk ON TAG_DATA (plc_code, tag_address, ts, group_name, cycle) LOCAL;
ALTER TABLE TAG_DATA ADD CONSTRAINT tag_data_uk UNIQUE (plc_code, tag_address, ts, group_name, cycle)
    USING INDEX tag_data_uk;
ALTER TABLE TAG_DATA DROP COLUMN seq;
