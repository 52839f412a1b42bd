package web

// For the tests: the handler and the engine check over any page's files.
var (
	HandlerFor      = handler
	MissingEngineIn = missingEngine
)
