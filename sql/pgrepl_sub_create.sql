CREATE SUBSCRIPTION %I CONNECTION %L PUBLICATION %I
  WITH (create_slot = false, enabled = false, copy_data = false, slot_name = %L,
        disable_on_error = true)
