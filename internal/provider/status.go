package provider

// StatusState is a gateway's verdict on an object.
type StatusState string

// Status states.
const (
	// Accepted: the gateway took the object (with a reason, it warned).
	Accepted StatusState = "Accepted"
	// Pending: no verdict yet for the object's current generation.
	Pending StatusState = "Pending"
	// Rejected: the gateway refused the object or could not resolve its references.
	Rejected StatusState = "Rejected"
	// NoStatus: the object carries no gateway status (Secrets, ReferenceGrants, ...).
	NoStatus StatusState = "None"
)

// Status is a gateway's verdict on one object, read from the status its
// controller wrote.
type Status struct {
	State StatusState `json:"state"`
	// Reason explains a Rejected or Pending state, or warnings on an Accepted one.
	Reason string `json:"reason,omitempty"`
	// Final is true when the verdict is about the object's current generation,
	// so waiting longer will not change it unless the controller changes its mind.
	Final bool `json:"final"`
}
