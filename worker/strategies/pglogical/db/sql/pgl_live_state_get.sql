-- Live validation's saved progress (template: schema); no row = fresh.
SELECT state FROM %I.live_state WHERE id = 1
