package linear

import _ "embed"

// SchemaSubset is the hand-written subset of Linear's GraphQL schema this
// package is generated from (schema.graphql). The fake server
// (linear/fakelinear) validates requests against it, so a query the real
// Linear would reject fails in tests too.
//
//go:embed schema.graphql
var SchemaSubset string

// Operations is the text of operations.graphql, the documents this package
// sends; tests validate it against the full Linear schema.
//
//go:embed operations.graphql
var Operations string
