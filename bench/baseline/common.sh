# The seed's shell flow, shared by the baseline scripts: one `aws` process per call, with jq,
# in the seed's order. Sourced, not run. Needs ELB_NAME (and CERTIFICATE_ARN to switch).
# The seed hard-coded the load balancer and certificate; here they are arguments.

: "${AWS_ENDPOINT_URL:?the baselines only ever talk to the sandbox: set AWS_ENDPOINT_URL}"

# The seed's three reads: the blue tag, the green tag, then the live port.
read_state() {
  # Query ELB to get the blue port label
  BLUE_PORT=`aws elb describe-tags --load-balancer-names "$ELB_NAME" | jq '.TagDescriptions[0].Tags[] | select(.Key == "blue") | .Value | tonumber'`

  # Query ELB to get the green port label
  GREEN_PORT=`aws elb describe-tags --load-balancer-names "$ELB_NAME" | jq '.TagDescriptions[0].Tags[] | select(.Key == "green") | .Value | tonumber'`

  # Query ELB to figure out the current port
  OLD_PORT=`aws elb describe-load-balancers --load-balancer-names "$ELB_NAME" | jq '.LoadBalancerDescriptions[0].ListenerDescriptions[0].Listener.InstancePort'`

  # figure out if the new color is blue or green
  if [ "${OLD_PORT}" == "${BLUE_PORT}" ]; then
    OLD_COLOR=blue
    NEW_COLOR=green
    NEW_PORT=$GREEN_PORT
  else
    OLD_COLOR=green
    NEW_COLOR=blue
    NEW_PORT=$BLUE_PORT
  fi
}

# The seed's switch: both listeners deleted before either is re-created, then the health check.
switch_listeners() {
  # remove the port mappings on the ELB
  aws elb delete-load-balancer-listeners --load-balancer-name "$ELB_NAME" --load-balancer-ports 80
  aws elb delete-load-balancer-listeners --load-balancer-name "$ELB_NAME" --load-balancer-ports 443

  # create new port mappings
  aws elb create-load-balancer-listeners --load-balancer-name "$ELB_NAME" --listeners "Protocol=HTTP,LoadBalancerPort=80,InstanceProtocol=HTTP,InstancePort=${NEW_PORT}"
  aws elb create-load-balancer-listeners --load-balancer-name "$ELB_NAME" --listeners "Protocol=HTTPS,LoadBalancerPort=443,InstanceProtocol=HTTP,InstancePort=${NEW_PORT},SSLCertificateId=${CERTIFICATE_ARN}"

  # reconfigure the health check
  aws elb configure-health-check --load-balancer-name "$ELB_NAME" --health-check "Target=HTTP:${NEW_PORT}/healthcheck,Interval=30,Timeout=5,UnhealthyThreshold=2,HealthyThreshold=2"
}
