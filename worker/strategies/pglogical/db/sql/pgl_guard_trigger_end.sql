CREATE EVENT TRIGGER %I ON ddl_command_end EXECUTE FUNCTION %I.ddl_guard()
