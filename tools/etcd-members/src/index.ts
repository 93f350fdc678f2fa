export { type Cluster, etcdBinary, type Member, startCluster } from "./cluster.js";
