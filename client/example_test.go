package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/eventd/eventd/client"
)

// The examples talk to a running daemon at eventdURL (here, one started by
// the tests; in a service, its configured address).

func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	c, err := client.New(eventdURL, client.WithUserAgent("billing/1.0"))
	if err != nil {
		log.Fatal(err)
	}

	// Write: the first event of a new stream, idempotent thanks to its id.
	type placed struct {
		Item  string `json:"item"`
		Total int    `json:"total"`
	}
	res, err := c.Append(ctx, "order-1001", "OrderPlaced", placed{"book", 12},
		client.WithExpectedVersion(client.NoStream), client.WithEventID("msg-7f3a"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("appended version", res.Version)

	// A stale expected version is a typed conflict with the current version.
	_, err = c.Append(ctx, "order-1001", "OrderPaid", map[string]int{"amount": 12},
		client.WithExpectedVersion(client.NoStream))
	if errors.Is(err, client.ErrWrongExpectedVersion) {
		v, _ := client.CurrentVersion(err)
		fmt.Println("conflict, stream is at version", v)
	}

	// Subscribe from the beginning of the stream; it resumes by itself
	// after dropped connections.
	sub, err := c.SubscribeStream(ctx, "order-1001", client.StreamSubscribeOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()
	if _, err := c.Append(ctx, "order-1001", "OrderPaid", map[string]int{"amount": 12},
		client.WithExpectedVersion(client.Exact(1))); err != nil {
		log.Fatal(err)
	}
	for ev := range sub.Events() {
		fmt.Println("received", ev.Version, ev.EventType)
		if ev.Version == 2 {
			break
		}
	}

	// Read everything back, newest first, over all pages.
	for ev, err := range c.StreamEvents(ctx, "order-1001", client.ReadStreamOptions{Direction: client.Backward, Limit: 1}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("read", ev.Version, ev.EventType)
	}
	// Output:
	// appended version 1
	// conflict, stream is at version 1
	// received 1 OrderPlaced
	// received 2 OrderPaid
	// read 2 OrderPaid
	// read 1 OrderPlaced
}

func ExampleClient_WaitCommand() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.New(eventdURL, client.WithAutoIDs())
	if err != nil {
		log.Fatal(err)
	}
	st, err := c.SendCommandAsync(ctx, client.Command{Type: "CreateUser",
		Data: map[string]string{"userId": "user-42", "email": "ada@example.com", "name": "Ada"}})
	if err != nil {
		log.Fatal(err)
	}
	done, err := c.WaitCommand(ctx, st.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(done.Status, done.Result.StreamID, done.Result.Version)

	// Read your own write from the built-in $stream-stats projection.
	e, err := c.Query(ctx, "$stream-stats", "user-42", client.QueryOptions{MinPosition: done.Result.LastPosition()})
	if err != nil {
		log.Fatal(err)
	}
	var stats struct{ Version int }
	if err := e.Decode(&stats); err != nil {
		log.Fatal(err)
	}
	fmt.Println("version", stats.Version)
	// Output:
	// completed user-42 1
	// version 1
}
