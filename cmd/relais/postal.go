package main

import (
	"github.com/relais-edu/relais/api"
	"github.com/relais-edu/relais/queue"
)

// The API finds the postal capability on the queue client it is given (start passes a *queue.Client).
var _ api.PostalQueue = (*queue.Client)(nil)
