-- Agent online time and concurrency (issue 17). The analytics subscriber
-- keeps, from the event stream, every presence change (agent.presence_changed)
-- and every change in the number of chats an agent holds (a chat assigned to
-- them, transferred away, resolved...), each under the outbox position of the
-- event that made it, so a re-delivered event adds nothing. Reports lay the
-- two step functions over the days they cover (domain::analytics::agent_time).
-- A rebuild empties and refills these tables like the other analytics ones.
CREATE TABLE analytics_presence (
    position BIGINT PRIMARY KEY,
    agent_id TEXT NOT NULL,
    status   TEXT NOT NULL,
    at       BIGINT NOT NULL
);
CREATE INDEX analytics_presence_by_agent ON analytics_presence(agent_id, at);
CREATE INDEX analytics_presence_by_time ON analytics_presence(at);
CREATE TABLE analytics_load (
    position BIGINT NOT NULL,
    agent_id TEXT NOT NULL,
    delta    BIGINT NOT NULL,
    at       BIGINT NOT NULL,
    PRIMARY KEY (position, agent_id)
);
CREATE INDEX analytics_load_by_time ON analytics_load(at);
-- The net change per agent and shop-local day, so that a report knows how many
-- chats each agent held when its range begins without summing every row before.
CREATE TABLE analytics_load_daily (
    day      TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    net      BIGINT NOT NULL,
    PRIMARY KEY (day, agent_id)
);
