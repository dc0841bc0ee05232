-- reports leave room for their updates (generated from supabase/schemas by scripts/db-diff; edit
-- the schema files, not this).

ALTER TABLE "public"."reports"
  SET (fillfactor=70);
