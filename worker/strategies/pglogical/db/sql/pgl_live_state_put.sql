-- Save live validation's progress (template: schema; $1 the JSON state).
INSERT INTO %I.live_state (id, state) VALUES (1, $1)
    ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state
