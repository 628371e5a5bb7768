// Command accounts is a small event-sourced service on eventd, written
// with the Go client: bank accounts whose commands go in through eventd's
// write side and whose balances are read back from a projection, each
// read seeing the write just made (read-your-writes).
//
//	go run ./cmd/eventd &                      # a daemon on 127.0.0.1:2113
//	go run ./examples/accounts                 # open, deposit, withdraw, read back
//	go run ./examples/accounts -url http://127.0.0.1:2113 -account acct-7
//
// What it sets up, idempotently (PUTs of the same definition change
// nothing), so it can run again and again:
//
//   - a reducer for the category "acct": how an account's events fold
//     into its state (deposited and withdrawn totals);
//   - three command handlers: OpenAccount (the account must be new),
//     Deposit and Withdraw (it must exist);
//   - a state projection "accounts", keyed by account, the read model.
//
// Then it opens an account, deposits and withdraws (commands with ids, so
// a retry never runs one twice), and after each command queries the
// projection with minPosition = the position of the command's event: the
// answer always includes that command's effect.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/eventd/eventd/client"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:2113", "the eventd daemon")
	account := flag.String("account", fmt.Sprintf("acct-%d", time.Now().UnixNano()), "the account id (a stream of category acct)")
	key := flag.String("key", os.Getenv("EVENTD_API_KEY"), "API key (admin, to register the definitions), if the daemon needs one")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, *url, *key, *account, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "accounts:", err)
		os.Exit(1)
	}
}

// run sets up the definitions, then runs a few commands on account and
// prints the balance the projection answers after each.
func run(ctx context.Context, url, key, account string, out io.Writer) error {
	var opts []client.Option
	if key != "" {
		opts = append(opts, client.WithAPIKey(key))
	}
	c, err := client.New(url, opts...)
	if err != nil {
		return err
	}
	if err := setup(ctx, c); err != nil {
		return fmt.Errorf("setting up: %w", err)
	}
	steps := []struct {
		typ    string
		amount int
	}{{"OpenAccount", 0}, {"Deposit", 100}, {"Withdraw", 30}, {"Deposit", 5}}
	for i, s := range steps {
		st, err := c.SendCommand(ctx, client.Command{
			Type: s.typ,
			ID:   fmt.Sprintf("%s-%d", account, i), // idempotent: a resend answers the first outcome
			Data: map[string]any{"accountId": account, "amount": s.amount},
		})
		if err != nil {
			return fmt.Errorf("%s: %w", s.typ, err)
		}
		pos := st.Result.Events[len(st.Result.Events)-1].Position
		balance, err := readBalance(ctx, c, account, pos)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%-11s %4d  → version %d, position %d, balance %d\n", s.typ, s.amount, st.Result.Version, pos, balance)
	}
	// A command that breaks a rule is refused with a reason, and recorded.
	_, err = c.SendCommand(ctx, client.Command{Type: "OpenAccount", Data: map[string]any{"accountId": account}})
	if !errors.Is(err, client.ErrCommandFailed) {
		return fmt.Errorf("opening %s twice: got %v, want command_failed", account, err)
	}
	fmt.Fprintf(out, "OpenAccount again       → refused: %v\n", err)
	return nil
}

// readBalance reads the account from the projection once it has processed
// position pos: read-your-writes.
func readBalance(ctx context.Context, c *client.Client, account string, pos uint64) (int, error) {
	e, err := c.Query(ctx, "accounts", account, client.QueryOptions{MinPosition: pos, Timeout: 5 * time.Second})
	if err != nil {
		return 0, fmt.Errorf("querying %s: %w", account, err)
	}
	var v struct {
		Deposited int `json:"deposited"`
		Withdrawn int `json:"withdrawn"`
	}
	if err := e.Decode(&v); err != nil {
		return 0, err
	}
	return v.Deposited - v.Withdrawn, nil // the read side computes what it shows
}

// setup registers the reducer, the command handlers and the projection.
func setup(ctx context.Context, c *client.Client) error {
	_, err := c.PutReducer(ctx, "accounts", client.ReducerDefinition{
		Category: "acct",
		Handlers: map[string]client.ReducerOps{
			"AccountOpened": {{Op: client.OpSet, Path: "openedAt", From: "timestamp"}, {Op: client.OpSet, Path: "deposited", From: "eventData.amount"}},
			"Deposited":     {{Op: client.OpIncrement, Path: "deposited", From: "eventData.amount"}},
			"Withdrawn":     {{Op: client.OpIncrement, Path: "withdrawn", From: "eventData.amount"}},
		},
	})
	if err != nil {
		return err
	}
	// A handler writes commandData (or one object of it) as the event's
	// data: the command carries what the event needs.
	for typ, def := range map[string]client.CommandHandlerDefinition{
		"OpenAccount": {EventType: "AccountOpened", StreamIDFrom: "commandData.accountId", Expect: client.ExpectNew, Data: "commandData"},
		"Deposit":     {EventType: "Deposited", StreamIDFrom: "commandData.accountId", Expect: client.ExpectExisting, Data: "commandData"},
		"Withdraw":    {EventType: "Withdrawn", StreamIDFrom: "commandData.accountId", Expect: client.ExpectExisting, Data: "commandData"},
	} {
		if _, err := c.PutCommandHandler(ctx, typ, def); err != nil {
			return err
		}
	}
	_, err = c.CreateProjection(ctx, client.ProjectionDefinition{
		ID: "accounts", Name: "accounts", Kind: client.ProjectionState,
		EventTypes: []string{"AccountOpened", "Deposited", "Withdrawn"}, StreamPrefix: "acct-",
	})
	return err
}
