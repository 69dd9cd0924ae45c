// Package mdrp reads the public Meal Delivery Routing Problem instances (Reyes, Erera,
// Savelsbergh, Sahasrabudhe, O'Neil, "Meal Delivery Routing: The Grubhub Instances", 2018),
// writes solutions in the format of the instances' public evaluator, checks them against the
// problem's rules and computes the problem's metrics.
//
// Times are whole minutes from the start of the instance's day; coordinates are metres.
package mdrp

// Params are an instance's parameters (instance_parameters.txt).
type Params struct {
	MetersPerMinute   float64
	PickupService     int // minutes spent at a restaurant, half before and half after the pickup
	DropoffService    int // minutes spent at a drop-off, half before and half after it
	TargetClickToDoor int // minutes; the overage metric counts minutes beyond it
	MaxClickToDoor    int // minutes
	PayPerOrder       float64
	GuaranteedPerHour float64 // minimum pay per hour of shift
}

// Point is a location in metres.
type Point struct{ X, Y float64 }

// Restaurant is one line of restaurants.txt.
type Restaurant struct {
	ID string
	At Point
}

// Order is one line of orders.txt.
type Order struct {
	ID         string
	Dropoff    Point
	Placed     int // minute the order is placed (and revealed)
	Restaurant int // index into Instance.Restaurants
	Ready      int // minute the food is ready
}

// Courier is one line of couriers.txt.
type Courier struct {
	ID    string
	Start Point // where the courier waits at the start of its shift
	On    int   // minute the shift starts
	Off   int   // minute the shift ends; no pickup after it
}

// Instance is one MDRP instance directory.
type Instance struct {
	Name        string // the directory's base name, e.g. 0o100t100s1p100
	Params      Params
	Restaurants []Restaurant
	Orders      []Order
	Couriers    []Courier
}

// Route is one committed assignment: a courier leaves where it is at Depart, travels to the
// restaurant, picks the bundle up and drops its orders off in sequence.
type Route struct {
	Assigned   int   // minute the assignment was made (>= every order's Placed)
	Courier    int   // index into Instance.Couriers
	Restaurant int   // index into Instance.Restaurants
	Orders     []int // indexes into Instance.Orders, in drop-off sequence
	Depart     int   // minute the courier leaves its previous location for the restaurant
	Arrive     int   // minute the courier reaches the restaurant
	Pickup     int   // minute of the pickup
	Dropoffs   []int // minute of each drop-off, aligned with Orders
}

// Solution is every committed route, in the order they were committed.
type Solution struct {
	Routes []Route
}
