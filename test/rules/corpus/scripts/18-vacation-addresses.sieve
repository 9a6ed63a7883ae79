require "vacation";
vacation :addresses ["me@example.test", "alias@example.test"] :from "me@example.test" :handle "trip" text:
I am on a trip.
..Back soon.
.
;
