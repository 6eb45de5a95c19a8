-- A sampling plan may run by itself each day (issue 17): after the shop's
-- night, over the day before; daily_ran_day is the last shop-local day it
-- sampled, so each day is sampled once (running again queues nothing twice).
ALTER TABLE qa_plans ADD COLUMN daily BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE qa_plans ADD COLUMN daily_ran_day TEXT;
