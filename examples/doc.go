// Package examples holds material for earshot users: example HCL configurations, an
// example custom transcriber plugin to copy, the knowledge base of the coach
// suggester, and the browser client with its demo page.
package examples
