package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/client"
)

// Log in, create a key, and list the active ones. (Not run: it needs a
// keyward server.)
func Example() {
	ctx := context.Background()
	c := client.New("http://127.0.0.1:8080")

	login, err := c.Login(ctx, client.LoginInput{UserName: "admin", Password: os.Getenv("KEYWARD_PASSWORD")})
	if err != nil {
		log.Fatal(err)
	}
	c = c.With(client.WithToken(login.AccessToken))

	key, err := c.CreateAPIKey(ctx, keyward.APIKeyInput{
		Name:        client.String("billing service"),
		Permissions: &[]keyward.PermissionRef{{Name: "orders_read"}},
		ExpiresIn:   client.Int64(90 * 24 * 3600),
	})
	var e *client.Error
	switch {
	case errors.As(err, &e) && e.Code == keyward.EINVALID:
		log.Fatalf("fix the input: %v", e) // e.Fields names each bad field
	case err != nil:
		log.Fatal(err)
	}
	// key.ClientSecret is shown only now: hand it to the service's secret
	// store, never to a log.
	_ = key.ClientSecret

	page, err := c.ListAPIKeys(ctx, client.ListAPIKeysOptions{Status: keyward.StatusActive, Sort: "-createdAt"})
	if err != nil {
		log.Fatal(err)
	}
	for _, k := range page.Items {
		fmt.Println(k.ClientID, k.Name)
	}
}

// Deactivate a key only if nobody changed it since it was read.
func ExampleClient_UpdateAPIKey() {
	ctx := context.Background()
	c := client.New("http://127.0.0.1:8080", client.WithToken(os.Getenv("KEYWARD_TOKEN")))

	k, err := c.GetAPIKey(ctx, "0b8e3c9a-1f1e-4c61-9d0e-5e7f6a1b2c3d")
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.UpdateAPIKey(ctx, k.ID, keyward.APIKeyInput{IsActive: client.Bool(false), ExpiresAt: keyward.Null[time.Time]()}, &k.Version)
	if client.HasCode(err, keyward.EPRECONDITION) {
		log.Fatal("the key changed meanwhile; read it again")
	} else if err != nil {
		log.Fatal(err)
	}
}
