-- ping: returns PONG; keeps the embedded Lua table non-empty.
return "PONG"
