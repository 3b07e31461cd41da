#pragma once
// The holder identity written into Leases, as knative's leaderelection.UniqueID: the pod's name
// (it is the hostname in a pod; $POD_NAME wins when set) + "_" + a random UUID, so two processes
// on one host, or a restarted pod, never share an identity.

#include <string>

namespace chainsd::ha {

std::string unique_identity();

}  // namespace chainsd::ha
