package printf

// Verbs is verbs, for the call checker in printf_test.
var Verbs = verbs
