/* fc_sql — text embedded at build time (cmake/embed_text.cmake):
 * fc_sql_get("name") returns sql/name.sql, fc_lua_get("name") returns
 * lua/name.lua, or NULL when there is no such file. Strings are static. */
#ifndef FC_SQL_H
#define FC_SQL_H
const char *fc_sql_get(const char *name);
const char *fc_lua_get(const char *name);
#endif
