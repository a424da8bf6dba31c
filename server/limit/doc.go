// Package limit keeps glbd from being used as a reflector: response rate
// limiting of UDP answers per client network and kind of response (RRL),
// and DNS cookies (RFC 7873, RFC 9018), whose valid server cookie exempts a
// client from RRL. It works on reply bytes and addresses; the query
// pipeline (server) decides when to call it.
package limit
